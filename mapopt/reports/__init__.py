"""Reports and pictures: bake-off reports (:mod:`mapopt.reports.study`) and mapping plots
(:mod:`mapopt.reports.mapping_plot`), the paper's experiment (:mod:`mapopt.reports.reproduction`),
drawn with matplotlib's Agg canvas; they read validated metrics, never compute a cost.

matplotlib is imported by these modules only, and the CLI imports them inside the
commands that draw, so ``mapopt --help`` stays fast.
"""
