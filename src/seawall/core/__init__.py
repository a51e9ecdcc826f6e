"""The pure decision core: no I/O, no clocks, no logging. Bytes, facts and `now` are arguments."""
