"""An independent check of `perplexity protocol=paper`: WikiText-2 perplexity computed here from
the released LLM-KICK / Wanda evaluation *rule* (not its code, and none of kick's task code):

  text    = "\\n\\n".join(HF rows), a row being a line with its "\\n", a blank line an empty row
  ids     = tokenizer(text).input_ids              (the tokenizer's special tokens included)
  window  i = ids[i*L:(i+1)*L],  i < nsamples = len(ids) // L (here: the first `--windows`)
  nll_i   = mean cross-entropy of tokens 2..L given their prefix, x L
  ppl     = exp(sum_i nll_i / (nsamples x L))

on the embedded SmolLM2-135M loaded straight with transformers. Prints numbers, asserts nothing:

  python benchmarks/paper_wikitext_ppl.py [--seqlen 512] [--windows 40] [--file wiki.test.raw]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from kick_models.embedded import converted_folder
from transformers import AutoModelForCausalLM, AutoTokenizer

from dataset_builder.rows import shared_data_dir


def hf_rows(path: Path) -> list[str]:
    """The HF `wikitext-2-raw-v1` rows of a raw file: each line with its newline, blank -> ""."""
    lines = path.read_bytes().decode("utf-8").replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line + "\n" if line.strip() else "" for line in lines]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seqlen", type=int, default=512)
    ap.add_argument("--windows", type=int, default=40)
    ap.add_argument("--file", type=Path, default=None)
    args = ap.parse_args()
    path = args.file or (shared_data_dir() or Path(".")) / "calibration" / "wikitext-2-raw-v1.test.raw"
    folder, _ = converted_folder()
    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    ids = torch.tensor(tok("\n\n".join(hf_rows(path)))["input_ids"])
    L = args.seqlen
    nsamples = min(len(ids) // L, args.windows)
    total = 0.0
    with torch.no_grad():
        for i in range(nsamples):
            x = ids[i * L : (i + 1) * L].unsqueeze(0)
            logits = model(x).logits[0, :-1].float()
            loss = torch.nn.functional.cross_entropy(logits, x[0, 1:])
            total += float(loss) * L
    print(f"file={path.name} tokens={len(ids)} bos_first={int(ids[0]) == tok.bos_token_id} seqlen={L}")
    print(f"windows={nsamples} ppl={math.exp(total / (nsamples * L)):.4f}")


if __name__ == "__main__":
    main()
