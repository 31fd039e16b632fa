"""One module per subcommand: parse options, call core, render."""
