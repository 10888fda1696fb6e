"""Reports written from the published results: Markdown and JSON per benchmark,
the index page, plots and the Every Eval Ever export."""
