"""python manage.py load_programs [--content DIR] [--check]

Validates every program and language under programs/content/ and loads what changed. Safe to run
again: unchanged content loads nothing. With any error nothing is loaded and the command exits
with status 1, listing each problem as file:line: message.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from programs import content_loader, services


class Command(BaseCommand):
    help = "Validate and load the program content files (new versions only for changed content)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--content", type=Path, default=None, help="Content folder (default: programs/content)."
        )
        parser.add_argument("--check", action="store_true", help="Only validate; load nothing.")

    def handle(self, *args, content=None, check=False, **options):
        def progress(message):
            self.stdout.write(message)

        try:
            if check:
                parsed = content_loader.read_content(content, progress)
                self.stdout.write(
                    self.style.SUCCESS(f"All content is valid ({len(parsed)} program languages).")
                )
                return
            results = services.program_content_load(root=content, progress=progress)
        except content_loader.ContentErrors as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(exc.errors)} problem(s) found; nothing was loaded.") from None
        loaded = [r for r in results if r.status == "loaded"]
        self.stdout.write(
            self.style.SUCCESS(f"Done: {len(loaded)} new version(s), {len(results) - len(loaded)} unchanged.")
        )
