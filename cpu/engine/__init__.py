"""The translation engine every CPU shares (QEMU's TCG, without a second language).

Guest code becomes Python source, compiled once per block; see cpu/README.md for what a
CPU supplies (its seams) and what the engine does with them:

* ``codegen``: ``Block``, the ``Ctx`` base class a CPU's code generator subclasses,
  inline loads and stores through the soft TLB, compiling a block;
* ``translate``: the block builder (predication, delay slots) and the disk cache idents;
* ``softmmu``: the soft TLB (tagged entries), slow-path loads and stores, code fetch;
* ``tbcache``: the block cache, jump caches, eviction, invalidation on stores to code;
* ``cpu``: ``TranslatedCPU``, the base class with the run loop;
* ``decode``: the declarative decoder (``Form``, ``Decoder``);
* ``exceptions``: ``GuestException``, the base of every CPU's typed faults.
"""
