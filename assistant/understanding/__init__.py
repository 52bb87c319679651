"""From text to one typed tool call: sentence templates first, then (issue 3) the LLM planner."""
