"""Built-in skills, one folder each: skill.py and sentences/<lang>.yaml."""
