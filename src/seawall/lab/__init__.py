"""The lab: a demo origin, traffic and scenarios that show what seawall does."""
