-- 020: a contact's messages found by an index (schema/020_messages_contact.sql).
CREATE INDEX messages_contact ON messages(contact_id) WHERE contact_id IS NOT NULL;
