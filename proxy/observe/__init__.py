"""Side parsers that read a response as it is relayed, without holding any byte back."""
