"""Joint Buy: collective buying for UK councils. The root: the `jointbuy` CLI, the dev stack and
the demo (settings and logging are the floor, in `core`)."""
