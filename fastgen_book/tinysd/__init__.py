"""The factory behind the shipped tiny Stable Diffusion model (`fastgen_book/sd/weights/tiny-sd`):
training stages (`train`, `lcm`), the recipe that runs them in order (`recipe`), the
machine-speed record (`speed`, `machine`), recipe checks (`trial`) and the model card (`card`).
The book's pages never import it; they use `fastgen_book.sd`, which loads what this made."""
