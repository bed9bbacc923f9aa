"""The exhibitor side: expos, halls, booths, products, leads."""
