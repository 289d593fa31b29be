# Status pages, customer messages and subscribers arrive with the customer-comms issue.
