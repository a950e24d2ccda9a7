# Developer shortcuts. `make demo` runs the demo sweep (resumable: rerun after an interruption)
# and writes its report; DEMO_LIMIT samples per task keeps it under 15 minutes on 2 CPU cores.
DEMO_SPEC ?= examples/demo.toml
DEMO_OUT ?= runs/demo
DEMO_LIMIT ?= 8

.PHONY: demo demo-report

demo:
	kick sweep --spec $(DEMO_SPEC) --out $(DEMO_OUT) --limit $(DEMO_LIMIT) --resume
	kick report $(DEMO_OUT)

demo-report:
	kick report $(DEMO_OUT)
