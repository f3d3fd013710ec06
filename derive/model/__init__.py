"""The model: symbols, Step trees, components and architectures, and the configs that give them sizes.

Nothing here has numbers in it but a config: builders see only symbols (derive.model.symbols), and a
config's values meet them in derive.accounting. Imports nothing from the rest of derive but errors and
resources.
"""
