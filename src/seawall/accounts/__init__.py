"""Account protection: auth events in, campaigns, step-up rules and warnings out."""
