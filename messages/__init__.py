"""What the API, the workflows and the activities exchange: one model per command, answer and
activity input, and the names they call each other by. Imports only `procurement`."""
