"""``python -m gate_agent run ...``: see ``gate_agent.cli``."""

from gate_agent.cli import main

if __name__ == "__main__":
    main()
