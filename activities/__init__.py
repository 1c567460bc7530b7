"""Side effects of the workflows: persistence now; assurance providers and publication later."""
