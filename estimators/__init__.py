"""Analytic core of the capacity planner: pure Python + numpy + pydantic; never imports torch.

Rooms, lowest first; a module imports only from its own room, from rooms below it, and from the
shared modules at the top (``errors``, ``units``, ``results``):

1. ``specs``       inputs: model, hardware, layout, workload, stack and profile specs; bounds; plain-word errors
2. ``catalog``     the bundled data turned into specs: presets, model files, GPUs, prices, stacks, profiles
3. ``counts``      exact parameters, FLOPs and saved-activation elements; encoders, VAEs; the training problem
4. ``memory``      bytes per GPU: model states, activations in flight, reserve, fragmentation
5. ``time``        kernel tables, compute rates, collectives, step time, what dominates it, ranges
6. ``search``      many layouts evaluated at once, ranked, explained
7. ``planning``    a whole plan as typed results; deadline/budget search over GPU kinds and sizes; sweeps
8. ``serving``     one clip's latency and memory on replicas of 1-8 GPUs, queueing, the cheapest fleet for a demand
9. ``calibration`` back-test, profile fit, cross-validation (training and serving)
10. ``documents``  JSON documents and schema, diffs, review, safe output files, golden scenarios

``tests/test_architecture.py`` walks every import and holds this order.
"""
