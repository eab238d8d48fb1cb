CREATE TABLE "contact_keys" (
	"tenant_id" uuid NOT NULL,
	"kind" text NOT NULL,
	-- COLLATE "C": a name prefix is a plain range of the btree, and ids compare as contacts.id does (edited by hand).
	"key" text COLLATE "C" NOT NULL,
	"contact_id" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "contact_keys_state" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"indexed_at" timestamp(6) with time zone NOT NULL,
	-- COLLATE "C" like contacts.id: the watermark is compared with (updated_at, id) keys (edited by hand).
	"indexed_id" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
CREATE INDEX "contact_keys_lookup" ON "contact_keys" USING btree ("tenant_id","kind","key","contact_id");--> statement-breakpoint
CREATE INDEX "contact_keys_contact" ON "contact_keys" USING btree ("tenant_id","contact_id");