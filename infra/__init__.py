"""The Pulumi program's building blocks: typed stack configuration and the component resources."""
