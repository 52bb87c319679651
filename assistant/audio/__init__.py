"""Audio in and out: microphones, speakers, WAV files, and the one internal format."""

SAMPLE_RATE = 16000
"""Every stage hears 16 kHz mono int16; sources convert to it."""
