"""The answer: its typed model, the HTML, the portable JSON/CSV copies, the PDF, the files and download links."""
