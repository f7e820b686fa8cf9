"""The files people edit, read one way: a line-aware YAML reader (`lines`) and declarative
schemas checked with `file:line` errors (`schema`)."""
