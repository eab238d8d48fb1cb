-- Existing rows get their document from their columns (same content as the writer renders;
-- only whitespace may differ, which JSON readers ignore), then the column becomes required.
ALTER TABLE "contacts" ADD COLUMN "doc" text;--> statement-breakpoint
UPDATE "contacts" SET "doc" = json_strip_nulls(json_build_object(
  'id', "id", 'name', "name", 'company', "company", 'title', "title", 'emails', "emails", 'phones', "phones",
  'photo_url', "photo_url", 'address', "address", 'websites', "websites", 'twitter', "twitter", 'url', "url"))::text;--> statement-breakpoint
ALTER TABLE "contacts" ALTER COLUMN "doc" SET NOT NULL;
