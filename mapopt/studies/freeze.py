"""The last module the runs' forkserver imports (:data:`mapopt.studies.isolation.PRELOAD`).

Everything imported before it lives as long as the forkserver: :func:`gc.freeze` keeps the
collector off those objects, so a forked run does not copy every page of them by touching
their GC headers (copy-on-write).
"""

import gc

gc.freeze()
