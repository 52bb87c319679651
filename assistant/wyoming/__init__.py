"""The Wyoming protocol (the `wyoming` package): this assistant's stages served to Home Assistant and
other clients (server.py), and satellites in other rooms (satellite.py)."""
