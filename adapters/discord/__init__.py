"""Discord, through discord.py: translates between the gateway and the core, nothing more."""
