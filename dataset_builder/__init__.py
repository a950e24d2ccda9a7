"""Raw LLM-KICK sources -> curated datasets in the normalized schema (`dataset_builder/schema.py`) ->
Parquet in the Hub layout with a dataset card -> one commit to a Hub dataset repo.

Modules: `readers` (pure, one per raw format), `curate` (records -> schema rows), `build`
(collect, write the folder), `card`, `stats`, `mmlu_categories`, `loading` (what tasks use),
`publish` (the upload plan) and `hub` (the only module with network I/O). The CLI lives in
`plugin` (`kick data build|stats|publish`). Nothing here imports torch; pyarrow, datasets and
huggingface_hub are imported lazily.
"""
