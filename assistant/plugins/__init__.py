"""The skill API: what a skill declares, and the registry that loads and checks skills."""
