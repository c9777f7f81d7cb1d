"""Staff page views of the services app (under /staff/)."""
