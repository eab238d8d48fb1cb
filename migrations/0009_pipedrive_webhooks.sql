CREATE TABLE "webhook_subscriptions" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"crm" text NOT NULL,
	"account_id" text NOT NULL,
	"secret" text NOT NULL,
	"crm_webhook_id" text,
	"state" text DEFAULT 'subscribing' NOT NULL,
	"last_event_at" timestamp(6) with time zone,
	"last_error" text,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp(6) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "ingest_state" ADD COLUMN "crm_budget_left" integer;--> statement-breakpoint
ALTER TABLE "ingest_state" ADD COLUMN "crm_budget_low_since" timestamp(6) with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_subscriptions_tenant_key" ON "webhook_subscriptions" USING btree ("tenant_id") WHERE "webhook_subscriptions"."state" <> 'removing';