"""Reports and pictures: bake-off reports (:mod:`mapopt.reports.study`) and mapping plots
(:mod:`mapopt.reports.mapping_plot`), drawn with matplotlib's Agg canvas.

matplotlib is imported by these modules only, and the CLI imports them inside the
commands that draw, so ``mapopt --help`` stays fast.
"""
