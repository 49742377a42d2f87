"""LGPS training: data, the generator/discriminator, losses, GAN training, evaluation and export.

Only this package imports TensorFlow/Keras, and only lazily where the app runtime may import it
(`training.evaluate` must work with LiteRT alone).
"""
