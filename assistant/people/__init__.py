"""The household's people: their voiceprints, who is speaking, and what each may do."""
