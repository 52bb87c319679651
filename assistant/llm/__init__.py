"""The LLM, for every prompt that uses it (the planner, replies worded from a tool's result, answers
from the household's documents): the local llama.cpp engine with each prompt's fixed part kept as KV
state (`local.py`) and an OpenAI-compatible server on a bigger machine (`server.py`). The failover
from that server to the local model is `core/failover.py`, shared with the Wyoming speech servers."""
