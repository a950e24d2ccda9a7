"""Test helpers, importable as `support` (pyproject: pythonpath = ["tests"]).

fake_plugin    the one fake plugin and its FakeModel (torch-free)
tiny           the one tiny random Llama (config, module, tokenizers, hf backend, saved folder)
openai_server  a scriptable fake OpenAI-compatible server
katan          the real llm-katan server on the embedded SmolLM2
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
