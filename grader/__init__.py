"""The course's tools, one package per stage of a lesson's life, in the order a lesson travels.

    release/   solutions/ -> notebooks/ (nbgrader generate_assignment) and the student bundle
    collect/   submissions from an exchange, a folder or a zip -> submitted/<student>/<lesson>/
    grade/     a class graded with nbgrader: each notebook run in the sandbox, scored by a clean checker
    sandbox/   the one sandbox policy, the kernel launcher, the kernel zygote, the shared Spark server
    harness/   the integrity harness: every exercise proven against recorded answers
    bench/     benchmarks: grading speed, PySpark's performance traps
    cluster/   a real Spark cluster on this machine (make cluster-up)
"""
