from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from messaging import figures
        from messaging.pending import open_items_at_end, register_collectors
        from patients.ending import open_items_counter_register

        open_items_counter_register(open_items_at_end)
        register_collectors()
        figures.register()
