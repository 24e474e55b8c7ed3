"""Model files: ``io`` (save, ``nn.load``), ``model_file`` (the pickle-free ``.npz`` read and
checked before anything is allocated) and ``model_meta`` (the metadata and history checks)."""
