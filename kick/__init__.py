"""kick: the knowledge-intensive truth about compressed LLMs (LLM-KICK as a tool).

The core is importable without torch; everything that does work lives in plugins.
"""

__version__ = "0.1.0"
