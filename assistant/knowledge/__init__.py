"""Household knowledge: the home's own documents (manuals, notes, letters) read, split into passages
with their source and page, and searched, entirely on this machine."""
