"""Raw LLM-KICK sources -> curated datasets in the normalized schema (`dataset_builder/schema.py`) ->
Parquet in the Hub layout with a dataset card -> one commit to a Hub dataset repo; and the rows
the tasks evaluate on, from any source they accept.

Modules, lowest first: `schema` (the contract), `layout` (shard names, column types, `Tables`),
`sources` (provenance and raw locations), `readers` (pure, one per raw format), `curate`
(records -> schema rows), `loading` (the one reader of built folders and Hub repos), `rows`
(what tasks use: any `data` source -> schema rows + provenance, raw-file discovery, the shared
data folder), `stats`, `card`, `build` (collect, write the folder), `mmlu_categories`, `publish`
(the upload plan) and `hub` (the only module with network I/O). The CLI lives in `plugin`
(`kick data build|stats|publish`). Nothing here imports torch; pyarrow, datasets and
huggingface_hub are imported lazily.
"""
