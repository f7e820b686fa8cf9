"""The rule engine: YAML rule packs in `<home>/rules/` (the data) are loaded, validated and run
here (the engine). `query` and `normalise` are the matching core; `schema` validates packs;
`loader` reads them from disk and reloads them; `engine` runs them per post and over windows."""
