//! Limits and leaks: what the API refuses must be refused from seed files too; no value in errors.
