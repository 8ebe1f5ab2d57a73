"""The bundled data (estimators/data or $VIDEOPLAN_DATA_DIR) turned into specs: model presets and files,
GPU kinds and the --gpus grammar, prices, training stacks, device profiles.

May import: specs.
"""
