"""One module per protocol, each on the device's own documented local API."""
