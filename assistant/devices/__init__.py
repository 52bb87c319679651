"""Home devices: found by mDNS, identified and controlled through their own local APIs."""
