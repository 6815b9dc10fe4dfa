from components.generators.routed_chat_generator import RoutedChatGenerator

__all__ = ["RoutedChatGenerator"]
