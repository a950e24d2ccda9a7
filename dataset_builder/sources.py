"""What each built config comes from: raw paths (relative to the shared data folder), license,
citation and what `kick` fixed relative to the original release. Pure data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    name: str  # short name stored in every row's `source`
    title: str
    license: str  # Hugging Face license id, stored in every row's `license`
    license_note: str
    homepage: str
    citation: str
    fixes: tuple[str, ...]


LLM_KICK_CITATION = """@inproceedings{jaiswal2024compressing,
  title     = {Compressing {LLMs}: The Truth is Rarely Pure and Never Simple},
  author    = {Jaiswal, Ajay and Gan, Zhe and Du, Xianzhi and Zhang, Bowen and Wang, Zhangyang and Yang, Yinfei},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2024}
}"""

SOURCES: dict[str, Source] = {
    "freebaseqa": Source(
        "freebaseqa",
        "FreebaseQA",
        "cc-by-4.0",
        "CC BY 4.0 (kelvin-jiang/FreebaseQA)",
        "https://github.com/kelvin-jiang/FreebaseQA",
        """@inproceedings{jiang2019freebaseqa,
  title     = {{FreebaseQA}: A New Factoid {QA} Data Set Matching Trivia-Style Question-Answer Pairs with {Freebase}},
  author    = {Jiang, Kelvin and Wu, Dekun and Jiang, Hui},
  booktitle = {Proceedings of NAACL-HLT},
  year      = {2019}
}""",
        (
            "Evaluation uses the eval split (LLM-KICK's code used the train split).",
            "`answers` holds every alias of every parse, de-duplicated case-insensitively "
            "(LLM-KICK's code kept only the first parse's aliases).",
            "Built from the v1.1 release converted to the 2019 JSON layout; question ids are not the official 2019 ids.",
        ),
    ),
    "mmlu": Source(
        "mmlu",
        "MMLU (Measuring Massive Multitask Language Understanding)",
        "mit",
        "MIT (hendrycks/test)",
        "https://github.com/hendrycks/test",
        """@inproceedings{hendrycks2021measuring,
  title     = {Measuring Massive Multitask Language Understanding},
  author    = {Hendrycks, Dan and Burns, Collin and Basart, Steven and Zou, Andy and Mazeika, Mantas and Song, Dawn and Steinhardt, Jacob},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2021}
}""",
        (
            "Each row carries its subject and its Hendrycks category (STEM, humanities, social sciences, other).",
            "Rows are ordered by subject, then by file order; the dev split is the 5-shot exemplar pool.",
        ),
    ),
    "nq_open_oracle": Source(
        "nq_open_oracle",
        "NaturalQuestions-Open with gold passages (lost-in-the-middle oracle setting)",
        "cc-by-sa-3.0",
        "NaturalQuestions: CC BY-SA 3.0; the lost-in-the-middle release: MIT",
        "https://github.com/nelson-liu/lost-in-the-middle",
        """@article{kwiatkowski2019natural,
  title   = {Natural Questions: A Benchmark for Question Answering Research},
  author  = {Kwiatkowski, Tom and Palomaki, Jennimaria and Redfield, Olivia and Collins, Michael and Parikh, Ankur and others},
  journal = {Transactions of the Association for Computational Linguistics},
  year    = {2019}
}
@article{liu2024lost,
  title   = {Lost in the Middle: How Language Models Use Long Contexts},
  author  = {Liu, Nelson F. and Lin, Kevin and Hewitt, John and Paranjape, Ashwin and Bevilacqua, Michele and Petroni, Fabio and Liang, Percy},
  journal = {Transactions of the Association for Computational Linguistics},
  year    = {2024}
}""",
        (
            "Substitute for TriviaQA rc validation, whose evidence text is not available: "
            "the gold passage (`context`, `context_title`) gives the open-book setting.",
            "Answers de-duplicated, order kept.",
        ),
    ),
    "squad_v1.1": Source(
        "squad_v1.1",
        "SQuAD v1.1 dev",
        "cc-by-sa-4.0",
        "CC BY-SA 4.0",
        "https://rajpurkar.github.io/SQuAD-explorer/",
        """@inproceedings{rajpurkar2016squad,
  title     = {{SQuAD}: 100,000+ Questions for Machine Comprehension of Text},
  author    = {Rajpurkar, Pranav and Zhang, Jian and Lopyrev, Konstantin and Liang, Percy},
  booktitle = {Proceedings of EMNLP},
  year      = {2016}
}""",
        (
            "Flattened to one row per question; answers de-duplicated (order kept); question whitespace stripped.",
            "Rebuilt from the SQuAD explorer pages, so `answer_start` is not available.",
        ),
    ),
    "cnn_dailymail": Source(
        "cnn_dailymail",
        "CNN/DailyMail stories selected by LLM-KICK (small / mid / large)",
        "unknown",
        "CNN/DailyMail articles (Hermann et al. 2015); no license is stated by LLM-KICK",
        "https://github.com/VITA-Group/llm-kick",
        """@inproceedings{hermann2015teaching,
  title     = {Teaching Machines to Read and Comprehend},
  author    = {Hermann, Karl Moritz and Kocisky, Tomas and Grefenstette, Edward and Espeholt, Lasse and Kay, Will and Suleyman, Mustafa and Blunsom, Phil},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year      = {2015}
}""",
        (
            "The `@highlight` reference summaries are removed from the story (LLM-KICK pasted them into every prompt) "
            "and kept as `highlights`.",
            "Paragraphs are separated by a blank line (LLM-KICK joined stripped lines with no space between sentences).",
            "A story that appears in several buckets (same file name, or same text up to case and whitespace) "
            "is kept only in the smallest one (small < mid < large): "
            "the 18 stories shared by small and mid (102-446 words, all shorter than every mid-only story) "
            "stay in small, so mid has 12 stories.",
        ),
    ),
    "vicuna_bench": Source(
        "vicuna_bench",
        "Vicuna-bench (80 questions) with LLM-KICK's GPT-3.5-turbo reference answers",
        "unknown",
        "questions: Apache-2.0 (lm-sys/FastChat); reference answers generated by LLM-KICK (no license file)",
        "https://github.com/lm-sys/FastChat",
        """@inproceedings{zheng2023judging,
  title     = {Judging {LLM}-as-a-Judge with {MT-Bench} and {Chatbot Arena}},
  author    = {Zheng, Lianmin and Chiang, Wei-Lin and Sheng, Ying and Zhuang, Siyuan and Wu, Zhanghao and others},
  booktitle = {Advances in Neural Information Processing Systems, Datasets and Benchmarks Track},
  year      = {2023}
}""",
        ("Questions joined with their reference answer by question id; every question has exactly one.",),
    ),
    "mt_bench": Source(
        "mt_bench",
        "MT-Bench (80 two-turn questions) with GPT-4 reference answers",
        "apache-2.0",
        "Apache-2.0 (lm-sys/FastChat)",
        "https://github.com/lm-sys/FastChat",
        """@inproceedings{zheng2023judging,
  title     = {Judging {LLM}-as-a-Judge with {MT-Bench} and {Chatbot Arena}},
  author    = {Zheng, Lianmin and Chiang, Wei-Lin and Sheng, Ying and Zhuang, Siyuan and Wu, Zhanghao and others},
  booktitle = {Advances in Neural Information Processing Systems, Datasets and Benchmarks Track},
  year      = {2023}
}""",
        ("GPT-4 reference turns attached (math, reasoning, coding); empty for the other categories.",),
    ),
    "wikitext2": Source(
        "wikitext2",
        "WikiText-2 (raw) test",
        "cc-by-sa-3.0",
        "CC BY-SA 3.0 (and GFDL)",
        "https://blog.salesforceairesearch.com/the-wikitext-long-term-dependency-language-modeling-dataset/",
        """@inproceedings{merity2017pointer,
  title     = {Pointer Sentinel Mixture Models},
  author    = {Merity, Stephen and Xiong, Caiming and Bradbury, James and Socher, Richard},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2017}
}""",
        ("CRLF line endings converted to LF; one row per line, each ending in a newline.",),
    ),
}

# which source each schema config is built from
CONFIG_SOURCE: dict[str, str] = {
    "factoid_qa": "freebaseqa",
    "mmlu": "mmlu",
    "icrqa_nq_open": "nq_open_oracle",
    "icrqa_squad": "squad_v1.1",
    "summarization_small": "cnn_dailymail",
    "summarization_mid": "cnn_dailymail",
    "summarization_large": "cnn_dailymail",
    "vicuna_bench": "vicuna_bench",
    "mt_bench": "mt_bench",
    "wikitext2": "wikitext2",
}

TASK_CATEGORIES: dict[str, list[str]] = {
    "factoid_qa": ["question-answering"],
    "mmlu": ["multiple-choice", "question-answering"],
    "icrqa_nq_open": ["question-answering"],
    "icrqa_squad": ["question-answering"],
    "summarization_small": ["summarization"],
    "summarization_mid": ["summarization"],
    "summarization_large": ["summarization"],
    "vicuna_bench": ["text-generation"],
    "mt_bench": ["text-generation"],
    "wikitext2": ["text-generation"],
}

# raw file locations, relative to the shared data folder (the builder reads these; `rows` uses
# them as the tasks' `data=shared` defaults)
FREEBASEQA_DIR = "freebaseqa"
FREEBASEQA_DERIVED = FREEBASEQA_DIR + "/FreebaseQA-{split}.v1_1.json"
MMLU_DIR = "mmlu"
MMLU_SPLIT_DIRS = {"dev": "dev", "validation": "val", "val": "val", "test": "test"}
NQ_OPEN_ORACLE = "nq_open_oracle/nq-open-oracle.jsonl"
SQUAD_DEV = "squad_v1.1_dev/dev-v1.1.explorer-derived.json"
CNN_DM_DIR = "cnn_dm_summarization"
STORIES_DIR = CNN_DM_DIR + "/selected_stories"
BUCKETS = ("small", "mid", "large")
QUESTION_FILE = "question.jsonl"
VICUNA_DIR = "vicuna_bench_llm_kick"
VICUNA_QUESTIONS = f"{VICUNA_DIR}/{QUESTION_FILE}"
VICUNA_ANSWERS = f"{VICUNA_DIR}/answer_gpt-3.5-turbo.jsonl"
MT_BENCH_DIR = "mt_bench"
MT_BENCH_QUESTIONS = f"{MT_BENCH_DIR}/{QUESTION_FILE}"
MT_BENCH_REFERENCES = f"{MT_BENCH_DIR}/reference_answer/gpt-4.jsonl"
WIKITEXT2_TEST = "calibration/wikitext-2-raw-v1.test.raw"
TRIVIAQA_VERIFIED_DEV = "triviaqa/verified-wikipedia-dev.json"
