-- Workers do their work outside the transaction that records it (no pooled connection is
-- held while SendGrid or Cloud Storage answers). A delivery first claims its message for a
-- while ('working' until lease_until); the record then becomes 'done' or 'discarded'. A
-- claim whose worker died runs out and the next redelivery takes it over.
ALTER TABLE processed_messages DROP CONSTRAINT processed_messages_outcome_check;
ALTER TABLE processed_messages
    ADD CONSTRAINT processed_messages_outcome_check
        CHECK (outcome IN ('working', 'done', 'discarded')),
    ADD COLUMN lease_until TIMESTAMPTZ,
    ADD CONSTRAINT processed_messages_lease_check
        CHECK ((outcome = 'working') = (lease_until IS NOT NULL));
